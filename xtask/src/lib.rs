//! The `compat`, `diff`, `docs` and `pr-comment` commands as a library: the binary, the integration
//! tests (which run them against throwaway git repositories and a local stand-in for GitHub's
//! REST API) and the benchmark call the same functions.

pub mod compat;
pub mod diff;
pub mod docs;
pub mod github;
pub mod pr_comment;
pub mod review;
