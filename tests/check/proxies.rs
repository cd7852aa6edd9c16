//! Starts the real nginx, Apache and Caddy on a generated config, each in its own process
//! group so that the whole group (master and workers) is killed when the test ends.
//! Kept small and separate from the issue-3 traffic harness; see the report for merging.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::netns::wait_for_port;
use crate::common::require_tool;

pub struct Running {
    child: Child,
    name: &'static str,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)); kill only that group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(name: &'static str, mut command: Command, log: &Path, listen: &str) -> Running {
        let log = std::fs::File::create(log).unwrap();
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let running = Running { child, name };
        wait_for_port(listen, running.name);
        running
    }
}

/// nginx with a main config that includes the generated site in the http context.
pub fn nginx(dir: &Path, site: &Path) -> Option<Running> {
    let nginx = require_tool("nginx")?;
    let main = dir.join("nginx-main.conf");
    let d = dir.display();
    std::fs::write(
        &main,
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{}}\nhttp {{\n    \
             include /etc/nginx/mime.types;\n    access_log off;\n    \
             client_body_temp_path {d}/nginx-body;\n    proxy_temp_path {d}/nginx-proxy;\n    \
             fastcgi_temp_path {d}/nginx-fastcgi;\n    uwsgi_temp_path {d}/nginx-uwsgi;\n    \
             scgi_temp_path {d}/nginx-scgi;\n    include {};\n}}\n",
            site.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(nginx);
    command.arg("-c").arg(&main).args(["-g", "daemon off;"]);
    Some(Running::start(
        "nginx",
        command,
        &dir.join("nginx.log"),
        "127.0.0.1:443",
    ))
}

const APACHE_MODULES: &[&str] = &[
    "mpm_event",
    "authz_core",
    "mime",
    "alias",
    "headers",
    "proxy",
    "proxy_http",
    "ssl",
    "socache_shmcb",
    "http2",
];

/// Apache with the modules the generated site names, as Debian's apache2.conf loads them.
/// Root starts it; the children run as www-data, so `dir` must be world-readable.
pub fn apache(dir: &Path, site: &Path) -> Option<Running> {
    let apache = require_tool("apache2")?;
    let d = dir.display();
    let mut main = format!(
        "ServerRoot {d}\nPidFile {d}/apache.pid\nDefaultRuntimeDir {d}\nErrorLog {d}/apache-error.log\n\
         ServerName localhost\nUser www-data\nGroup www-data\nTypesConfig /etc/mime.types\n\
         Listen 127.0.0.1:80\nListen 127.0.0.1:443\n"
    );
    for module in APACHE_MODULES {
        main.push_str(&format!(
            "LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so\n"
        ));
    }
    main.push_str(&format!("Include {}\n", site.display()));
    let main_path = dir.join("apache-main.conf");
    std::fs::write(&main_path, main).unwrap();
    let mut command = Command::new(apache);
    command.arg("-f").arg(&main_path).arg("-DFOREGROUND");
    Some(Running::start(
        "apache2",
        command,
        &dir.join("apache.log"),
        "127.0.0.1:443",
    ))
}

/// Caddy on the generated Caddyfile, with its storage in `dir`.
pub fn caddy(dir: &Path, caddyfile: &Path) -> Option<Running> {
    let caddy = require_tool("caddy")?;
    let mut command = Command::new(caddy);
    command
        .arg("run")
        .arg("--adapter")
        .arg("caddyfile")
        .arg("--config")
        .arg(caddyfile)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("caddy-data"))
        .env("XDG_CONFIG_HOME", dir.join("caddy-config"));
    Some(Running::start(
        "caddy",
        command,
        &dir.join("caddy.log"),
        "127.0.0.1:443",
    ))
}
