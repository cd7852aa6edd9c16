//! One integration-test binary (as just does): one module per feature.

mod common;

mod cli;
mod render;
mod traffic;
mod validate;
