//! Node side: reaching nodes, the local cluster, and the systems under test.
