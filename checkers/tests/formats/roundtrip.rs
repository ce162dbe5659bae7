//! Histories survive conversion between formats.
