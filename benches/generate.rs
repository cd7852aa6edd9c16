//! The library path of `mxproxy generate`: flags → validated setup → plan → every file.
//! `cargo bench --bench generate`

use std::hint::black_box;

use clap::Parser;
use criterion::{Criterion, criterion_group, criterion_main};
use mxproxy::cli::{Cli, Command};

fn generate(flags: &[&str]) -> usize {
    let cli = Cli::try_parse_from(["mxproxy", "generate"].iter().chain(flags)).unwrap();
    let Some(Command::Generate(args)) = cli.command else {
        unreachable!()
    };
    let setup = mxproxy::config::merge(&args.setup, Default::default()).unwrap();
    let rendering = mxproxy::pipeline::render(
        &setup,
        &mxproxy::render::Templates::builtin(),
        mxproxy::setup::Layout::Folder,
    )
    .unwrap();
    rendering.files.iter().map(|f| f.content.len()).sum()
}

fn benches(c: &mut Criterion) {
    c.bench_function("generate/default", |b| {
        b.iter(|| generate(black_box(&["--server-name", "example.com"])))
    });
    c.bench_function("generate/large", |b| {
        b.iter(|| {
            generate(black_box(&[
                "--server-name",
                "example.com",
                "--proxy",
                "nginx,apache,caddy,traefik,haproxy",
                "--compose",
                "--federation-port",
                "8448",
            ]))
        })
    });
}

criterion_group!(group, benches);
criterion_main!(group);
