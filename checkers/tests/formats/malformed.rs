//! Malformed histories are errors naming the file and line, never panics.
