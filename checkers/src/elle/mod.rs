//! Elle-style transactional checker: dependency graphs and cycle search on petgraph.
