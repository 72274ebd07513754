//! The `compat` and `diff` commands as a library: the binary, the integration tests (which run
//! them against throwaway git repositories) and the benchmark call the same functions.

pub mod compat;
pub mod diff;
