//! What a test does: op vocabularies, generators, the `Client` trait.
