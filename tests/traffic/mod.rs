//! Real traffic through the real servers: nginx, Apache, Caddy, HAProxy and Traefik
//! started on the generated configs, in front of a recording upstream, each test in a
//! network namespace of its own. How to run them: README.md, "Real-traffic tests".

mod client;
mod front;
mod health;
mod longpoll;
mod renewal;
mod rtc;
mod rules;
mod setups;
mod stack;
mod synapse_origin;
mod synapse_workers;
mod traefik;
mod web;
mod workers;

/// Runs a test body on a small runtime of its own: the upstream, the client and the
/// checks share it.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
