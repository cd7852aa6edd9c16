//! One integration-test binary (as just does): one module per feature.

mod common;

mod cli;
mod ecosystem;
mod hostile;
mod kubernetes;
mod render;
mod traffic;
mod validate;
mod wizard;

mod check;

mod architecture;
