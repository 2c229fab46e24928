//! Projections: pure folds of the log into read models, checkpointed in their own trees.
