//! History file formats: native JSON Lines, Jepsen EDN, Porcupine kv; CSV export.
