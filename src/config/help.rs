//! `--help` texts that name a default or a list kept in Rust, built from it: a hand-written
//! "127.0.0.1:7880" stays in the help when the constant moves, and a new worker group or
//! homeserver would be missing from it.

use crate::setup::WorkerGroup;

pub fn workers() -> String {
    let groups: Vec<&str> = WorkerGroup::ALL.iter().map(|group| group.name()).collect();
    format!(
        "Synapse only: send a group of requests to a worker process, GROUP=HOST:PORT; repeat for more workers and groups ({}); the rest stays on --upstream [e.g. sync=127.0.0.1:8083]",
        groups.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    /// `generate --help` on one line: the help wraps long lines, and the values are looked
    /// for across the breaks.
    fn generate_help() -> String {
        let mut cli = Cli::command();
        cli.find_subcommand_mut("generate")
            .expect("generate is a subcommand")
            .render_long_help()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_worker_help_names_every_group_in_order() {
        let names: Vec<&str> = WorkerGroup::ALL.iter().map(|group| group.name()).collect();
        let listed = format!("groups ({})", names.join(", "));
        assert!(
            generate_help().contains(&listed),
            "`--worker` help lists {listed}"
        );
    }
}
