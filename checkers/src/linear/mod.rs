//! Linearizability: Wing-Gong-Lowe search with P-compositionality, and the models it checks against.
