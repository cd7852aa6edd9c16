use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::setup::{
    ByteSize, DnsName, GatewayRef, Homeserver, IngressClass, Port, Proxy, ServerName, TlsMode,
};

/// Every failure mxproxy reports. Printed once, in `run()`; `exit_code` is the only
/// place that decides how the process ends.
#[derive(Debug)]
pub enum Error {
    /// A YAML key whose value was refused, or a file that is not valid YAML.
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    ConfigRead {
        path: PathBuf,
        source: io::Error,
    },
    /// A required value given neither as flag nor as key.
    Missing {
        flag: &'static str,
        key: &'static str,
        example: &'static str,
    },
    /// `--layout debian` with output that has no Debian place.
    DebianLayoutRefuses {
        what: &'static str,
        why: &'static str,
        example: &'static str,
    },
    /// `--out` resolves to `/` without `--force` (a dry run may look).
    OutIsRoot {
        out: PathBuf,
    },
    /// A file below `--templates` that names no built-in template.
    UnknownTemplate {
        dir: PathBuf,
        path: PathBuf,
        name: String,
    },
    /// `mxproxy man NAME` for a name that is no subcommand.
    NoManPage {
        name: String,
        pages: Vec<String>,
    },
    /// The wizard was asked for Kubernetes manifests.
    WizardKubernetes,
    /// A `--out` that no shell command can carry (a NUL byte).
    OutNotShellSafe {
        out: String,
    },
    /// Existing files with other content, left alone because `--force` was not given.
    WouldOverwrite {
        paths: Vec<PathBuf>,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
    Render {
        template: String,
        message: String,
    },
    /// The wizard was started where nobody can answer: `stream` is redirected.
    NotATerminal {
        stream: &'static str,
        example: String,
    },
    /// Esc or Ctrl-C in the wizard.
    Cancelled,
    /// The wizard's terminal failed (closed, or reading a key failed).
    Terminal {
        source: io::Error,
    },
    /// A `check` flag whose value cannot be used (an unreadable --ca-file, say).
    CheckInput {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// The machinery itself failed (no async runtime).
    Runtime {
        message: String,
    },

    // ---- The setup's refusals (config::merge): values each valid, not valid together.
    // The words are in `Display`; each variant holds what its message names.
    /// Two keys of one layer that say opposite things (`--no-federation --federation-port 8448`).
    Contradict {
        a: String,
        b: String,
        example: &'static str,
    },
    /// A value that only means something with another one (`--acme-email` needs `--tls acme`).
    OnlyWith {
        flag: String,
        needs: String,
        example: String,
    },
    /// `--tls files` without both paths.
    TlsFilesIncomplete,
    /// `--tls-cert`/`--tls-key` with a mode that does not read them.
    TlsFilesOnly {
        mode: TlsMode,
    },
    /// `--expose-admin` for a homeserver whose admin API mxproxy does not keep closed.
    NoAdminApi {
        homeserver: Homeserver,
        display_name: &'static str,
    },
    /// A loopback `--upstream` (`flag`: how it was given) in the compose stack.
    UpstreamInContainer {
        flag: &'static str,
        upstream: String,
        example: String,
    },
    /// An IP address as an upstream of a service the compose stack runs itself (`service`),
    /// which the proxy reaches by its name: the address is no container of the stack's.
    AddressOutsideStack {
        flag: &'static str,
        upstream: String,
        service: String,
        example: String,
    },
    FederationOnHttpPort,
    NoProxy,
    ListenAddressWithCompose,
    /// More than one `--listen-address` for Traefik, whose entry point takes one.
    TraefikOneAddress,

    // ---- Limits of a value that only one homeserver or proxy has.
    /// An upload limit larger than the homeserver's own setting holds.
    UploadAboveLimit {
        /// `--max-upload` or `max_upload:`, as it was given.
        flag: &'static str,
        value: ByteSize,
        display_name: &'static str,
        setting: &'static str,
        ceiling: u64,
        why: &'static str,
        /// The largest whole MiB it holds, as the example.
        example: ByteSize,
    },
    /// A host name longer than a proxy that obtains certificates itself can store one for.
    CertificateNameTooLong {
        proxy: Proxy,
        display_name: &'static str,
        host: String,
        longest: usize,
    },
    /// `--mas` with a homeserver other than Synapse (`why`: what it has instead).
    MasHomeserver {
        homeserver: Homeserver,
        display_name: &'static str,
        why: &'static str,
    },
    /// `--mas-host` (`flag`: as given) naming a host the homeserver's sites already serve.
    MasHostTaken {
        flag: &'static str,
        host: String,
        taken_by: &'static str,
    },
    /// `--mas-upstream` on loopback in the compose stack, where loopback is the proxy's
    /// own container.
    MasUpstreamInContainer {
        flag: &'static str,
        upstream: String,
    },
    /// `auth.<server-name>` is too long for DNS.
    MasDefaultHostTooLong {
        server_name: DnsName,
    },
    /// MAS's upstream (`flag`: as given, or its default) on the homeserver's own address;
    /// `example` is a free address to offer instead.
    MasUpstreamIsHomeserver {
        flag: &'static str,
        upstream: String,
        example: String,
    },
    /// `--livekit-upstream` or `--rtc-auth-upstream` (`flag`) on loopback in the compose
    /// stack, where loopback is the proxy's own container; `example` is the service's address.
    RtcUpstreamInContainer {
        flag: &'static str,
        upstream: String,
        example: String,
    },
    /// In the compose stack, an upstream (`flag`: as given, or its default) whose host names
    /// a service (`Upstream::compose_service`) that another service of the stack is already
    /// called (`taken_by`); `example` is the flag with the service's own default name.
    ComposeServiceTaken {
        flag: &'static str,
        upstream: String,
        service: String,
        taken_by: String,
        example: String,
    },
    /// `--rtc-host` (`flag`: as given) naming a host another site of the setup serves.
    RtcHostTaken {
        flag: &'static str,
        host: String,
        taken_by: &'static str,
    },
    /// `rtc.<server-name>` is too long for DNS.
    RtcDefaultHostTooLong {
        server_name: DnsName,
    },
    /// `--livekit-upstream` or `--rtc-auth-upstream` (`flag`) on an address another
    /// service of the setup answers on.
    RtcUpstreamTaken {
        flag: &'static str,
        upstream: String,
        taken_by: &'static str,
    },
    /// `--rtc` with a proxy that forwards the well-known to a homeserver mxproxy cannot
    /// make announce the focus.
    RtcWellKnownFromHomeserver {
        proxy: Proxy,
        homeserver: Homeserver,
        display_name: &'static str,
        why: &'static str,
    },
    /// `--element-web` (`flag`: as given) naming a host the homeserver's sites or MAS
    /// already serve.
    ElementWebHostTaken {
        flag: &'static str,
        host: String,
        taken_by: &'static str,
    },
    /// `--element-web` with a proxy, named on purpose, that cannot serve a folder of files.
    ElementWebCannotServe {
        proxy: Proxy,
        display_name: &'static str,
    },
    /// `--element-web` or `--base-redirect` with an output it does not cover yet.
    ElementWebNotYet {
        flag: &'static str,
        with: &'static str,
    },
    /// `--element-web-upstream` (`flag`: as given) on loopback in the compose stack.
    ElementWebUpstreamInContainer {
        flag: &'static str,
        upstream: String,
    },
    /// `--base-redirect` where the server name is the homeserver host, whose paths are the
    /// homeserver's.
    BaseRedirectOnHomeserver {
        flag: &'static str,
        server_name: String,
    },
    /// A Kubernetes flag without `--kubernetes`.
    KubernetesOnly {
        flag: &'static str,
        example: &'static str,
    },
    /// A value that means nothing in a cluster; `example` is the working command.
    KubernetesRefuses {
        flag: String,
        why: String,
        example: String,
    },
    KubernetesFederationPort {
        port: Port,
        server_name: ServerName,
        example: String,
    },
    /// A homeserver the manifests cannot configure (it needs a generated config file).
    KubernetesHomeserver {
        homeserver: Homeserver,
        display_name: &'static str,
        example: String,
    },
    /// `--kubernetes` without `--ingress-class` or `--gateway`.
    KubernetesRouting {
        example: String,
    },
    TwoRoutings {
        class: IngressClass,
        gateway: GatewayRef,
    },
    /// `--kubernetes --tls acme` with an Ingress but no `--cluster-issuer`.
    KubernetesIssuer {
        example: String,
    },
    /// A certificate setting with `--gateway`, whose listener holds the certificate.
    GatewayHoldsCertificate {
        flag: String,
        why: &'static str,
        example: String,
    },
    /// A `--worker` (`given`: as written, flag or key) that cannot work: another
    /// homeserver, a second worker for a group Synapse cannot shard, SSO with MAS, an
    /// output that cannot route to workers yet.
    WorkerRefused {
        given: String,
        why: String,
        example: String,
    },
    /// A file or folder below `--templates` that cannot be read.
    TemplateRead {
        path: PathBuf,
        source: io::Error,
    },
    /// `--cdn` with a federation port the CDN does not forward.
    CdnFederationPort {
        /// `--federation-port` or `federation_port:`, as it was given.
        flag: &'static str,
        port: Port,
        cdn: &'static str,
        ports: String,
    },
}

/// The example for a `--tls files` refusal.
const TLS_FILES: &str =
    "--tls files --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key /etc/ssl/matrix/privkey.pem";

/// Also written by the wizard's SIGINT handler, which cannot format.
pub const CANCELLED: &str = "wizard cancelled; nothing was written";

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. }
            | Error::Missing { .. }
            | Error::DebianLayoutRefuses { .. }
            | Error::OutIsRoot { .. }
            | Error::UnknownTemplate { .. }
            | Error::NoManPage { .. }
            | Error::WizardKubernetes
            | Error::OutNotShellSafe { .. }
            | Error::NotATerminal { .. }
            | Error::CheckInput { .. } => 2,
            Error::Contradict { .. }
            | Error::OnlyWith { .. }
            | Error::TlsFilesIncomplete
            | Error::TlsFilesOnly { .. }
            | Error::NoAdminApi { .. }
            | Error::UpstreamInContainer { .. }
            | Error::AddressOutsideStack { .. }
            | Error::FederationOnHttpPort
            | Error::NoProxy
            | Error::ListenAddressWithCompose
            | Error::TraefikOneAddress
            | Error::UploadAboveLimit { .. }
            | Error::CertificateNameTooLong { .. }
            | Error::MasHomeserver { .. }
            | Error::MasUpstreamInContainer { .. }
            | Error::MasHostTaken { .. }
            | Error::MasDefaultHostTooLong { .. }
            | Error::MasUpstreamIsHomeserver { .. }
            | Error::RtcUpstreamInContainer { .. }
            | Error::ComposeServiceTaken { .. }
            | Error::RtcHostTaken { .. }
            | Error::RtcDefaultHostTooLong { .. }
            | Error::RtcUpstreamTaken { .. }
            | Error::RtcWellKnownFromHomeserver { .. }
            | Error::ElementWebHostTaken { .. }
            | Error::ElementWebCannotServe { .. }
            | Error::ElementWebNotYet { .. }
            | Error::ElementWebUpstreamInContainer { .. }
            | Error::BaseRedirectOnHomeserver { .. }
            | Error::KubernetesOnly { .. }
            | Error::KubernetesRefuses { .. }
            | Error::KubernetesFederationPort { .. }
            | Error::KubernetesHomeserver { .. }
            | Error::KubernetesRouting { .. }
            | Error::TwoRoutings { .. }
            | Error::KubernetesIssuer { .. }
            | Error::GatewayHoldsCertificate { .. }
            | Error::CdnFederationPort { .. } => 2,
            Error::WorkerRefused { .. } => 2,
            // What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
            Error::Cancelled => 130,
            Error::ConfigRead { .. }
            | Error::WouldOverwrite { .. }
            | Error::Write { .. }
            | Error::Render { .. }
            | Error::Terminal { .. }
            | Error::TemplateRead { .. }
            | Error::Runtime { .. } => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config {
                path,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            Error::Config {
                path,
                line: None,
                message,
            } => write!(f, "{}: {message}", path.display()),
            Error::ConfigRead { path, source } => {
                write!(f, "cannot read config file `{}`: {source}", path.display())
            }
            Error::Missing { flag, key, example } => write!(
                f,
                "{flag} is required (or `{key}` in the --config file), e.g. {flag} {example}"
            ),
            Error::DebianLayoutRefuses { what, why, example } => write!(
                f,
                "--layout debian places files for the host's own servers; {what} {why}, e.g. {example}"
            ),
            Error::OutIsRoot { out } => write!(
                f,
                "--out {} writes straight into the system's /etc and webroot; check the files \
                 under a staging prefix first, or add --force, e.g. --layout debian --out \
                 ./staging (then --out / --force)",
                out.display()
            ),
            Error::UnknownTemplate { dir, path, name } => write!(
                f,
                "--templates {}: `{}` replaces no built-in template ({name} is not one of them), \
                 e.g. {} (`mxproxy templates export DIR` writes the names)",
                dir.display(),
                path.display(),
                dir.join("nginx/site.conf.j2").display()
            ),
            Error::NoManPage { name, pages } => write!(
                f,
                "man: `{name}` is not a subcommand; there is a page for {}, e.g. mxproxy man generate",
                pages.join(", ")
            ),
            Error::WizardKubernetes => f.write_str(
                "the wizard asks about proxies and compose stacks, not Kubernetes; write \
                 Kubernetes manifests with `mxproxy generate --kubernetes`, e.g. mxproxy generate \
                 --server-name example.com --kubernetes --ingress-class nginx --cluster-issuer \
                 letsencrypt",
            ),
            Error::OutNotShellSafe { out } => write!(
                f,
                "--out \"{out}\" contains a NUL byte, which no shell command can pass, e.g. --out {}",
                crate::defaults::OUT
            ),
            Error::WouldOverwrite { paths } => {
                writeln!(
                    f,
                    "refusing to overwrite {} existing file(s) whose content differs:",
                    paths.len()
                )?;
                for path in paths {
                    writeln!(f, "  {}", path.display())?;
                }
                write!(
                    f,
                    "nothing was written; see the changes with --dry-run, replace them with --force"
                )
            }
            Error::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Error::Render { template, message } => {
                write!(f, "template `{template}` failed to render: {message}")
            }
            Error::NotATerminal { stream, example } => write!(
                f,
                "`mxproxy wizard` asks its questions on a terminal, but {stream} is not one \
                 (redirected, as in CI or a provisioning script); give the setup as flags instead, e.g.\n  {example}"
            ),
            Error::Cancelled => f.write_str(CANCELLED),
            Error::Terminal { source } => write!(f, "the wizard's terminal failed: {source}"),
            Error::CheckInput {
                flag,
                value,
                reason,
            } => write!(f, "{flag} `{value}`: {reason}"),
            Error::Runtime { message } => f.write_str(message),
            // The setup's refusals (config::merge).
            Error::Contradict { a, b, example } => {
                write!(f, "{a} and {b} contradict each other, e.g. {example}")
            }
            Error::OnlyWith {
                flag,
                needs,
                example,
            } => write!(f, "{flag} is only used with {needs}, e.g. {example}"),
            Error::TlsFilesIncomplete => write!(
                f,
                "--tls files needs both --tls-cert and --tls-key, e.g. {TLS_FILES}"
            ),
            Error::TlsFilesOnly { mode } => write!(
                f,
                "--tls-cert and --tls-key are only used with --tls files, not --tls {mode}, e.g. {TLS_FILES}"
            ),
            Error::NoAdminApi {
                homeserver,
                display_name,
            } => write!(
                f,
                "--expose-admin: {display_name} has no admin API prefix that mxproxy keeps closed, \
                 e.g. --homeserver {homeserver} without --expose-admin"
            ),
            Error::UpstreamInContainer {
                flag,
                upstream,
                example,
            } => write!(
                f,
                "{flag} {upstream} points at the proxy container itself in the compose stack; \
                 the proxy reaches the homeserver by its service name, e.g. {example}"
            ),
            Error::AddressOutsideStack {
                flag,
                upstream,
                service,
                example,
            } => write!(
                f,
                "{flag} {upstream} is an IP address, but the compose stack runs that upstream \
                 itself, as the service `{service}` at an address Docker chooses: the proxy \
                 would never reach it. Name the service, e.g. {flag} {example}, or leave out \
                 --compose to proxy to another host"
            ),
            Error::FederationOnHttpPort => f.write_str(
                "--federation-port 80 is the plain-HTTP port; federation needs TLS on its own port \
                 or 443, e.g. --federation-port 8448",
            ),
            Error::NoProxy => f.write_str(
                "the `proxy` list is empty; name at least one proxy, e.g. proxy: [nginx]",
            ),
            Error::ListenAddressWithCompose => f.write_str(
                "--listen-address does not apply to the compose stack: the proxy listens inside its \
                 container and compose publishes its ports, e.g. --compose without --listen-address",
            ),
            Error::TraefikOneAddress => f.write_str(
                "a Traefik entry point listens on one address; --listen-address was given more than \
                 one, e.g. --listen-address 203.0.113.7",
            ),
            Error::UploadAboveLimit {
                flag,
                value,
                display_name,
                setting,
                ceiling,
                why,
                example,
            } => write!(
                f,
                "{flag} {value} is above {ceiling} bytes, the most {display_name}'s {setting} \
                 holds: it {why}; choose at most that or another homeserver, e.g. {flag} {example}"
            ),
            Error::CertificateNameTooLong {
                proxy,
                display_name,
                host,
                longest,
            } => write!(
                f,
                "--proxy {proxy} cannot obtain a certificate for {host}: {display_name} stores it \
                 under file names that hold a host name of at most {longest} characters, and this \
                 one has {}; give it the certificate yourself, or use another proxy, e.g. \
                 --tls files --tls-cert /etc/ssl/matrix/fullchain.pem --tls-key \
                 /etc/ssl/matrix/privkey.pem",
                host.len()
            ),
            Error::MasHomeserver {
                homeserver,
                display_name,
                why,
            } => write!(
                f,
                "--mas: the Matrix Authentication Service works with Synapse only (its \
                 matrix.kind is a Synapse), not with {display_name} (--homeserver {homeserver}){why}, \
                 e.g. --homeserver synapse --mas"
            ),
            Error::MasUpstreamInContainer { flag, upstream } => write!(
                f,
                "{flag} {upstream} points at the proxy container itself in the compose stack; \
                 the proxy and Synapse reach MAS by its service name, e.g. {flag} {}:{}",
                crate::defaults::MAS_COMPOSE_SERVICE,
                crate::homeserver::mas::LISTENER_PORT
            ),
            Error::MasHostTaken {
                flag,
                host,
                taken_by,
            } => write!(
                f,
                "{flag} {host}: that host is already the {taken_by}; MAS needs a host of its own \
                 (or a path below the homeserver host), e.g. --mas-host auth.example.com or --mas-path /auth"
            ),
            Error::MasDefaultHostTooLong { server_name } => write!(
                f,
                "the default MAS host auth.{server_name} is too long for DNS; name it yourself, \
                 e.g. --mas-host auth.example.com, or mount MAS below a path: --mas-path /auth"
            ),
            Error::MasUpstreamIsHomeserver {
                flag,
                upstream,
                example,
            } => write!(
                f,
                "{flag} {upstream} is the homeserver's own upstream; MAS listens on a port of its \
                 own, e.g. --mas-upstream {example}"
            ),
            Error::ComposeServiceTaken {
                flag,
                upstream,
                service,
                taken_by,
                example,
            } => write!(
                f,
                "{flag} {upstream} names the compose service {service}, which is already \
                 {taken_by}: the stack names each service the proxy reaches after its \
                 upstream's host, and two services cannot share a name; e.g. {flag} {example}"
            ),
            Error::RtcUpstreamInContainer {
                flag,
                upstream,
                example,
            } => write!(
                f,
                "{flag} {upstream} points at the proxy container itself in the compose stack; \
                 the proxy reaches LiveKit and its authorization service by their service \
                 names, e.g. {flag} {example}"
            ),
            Error::RtcHostTaken {
                flag,
                host,
                taken_by,
            } => write!(
                f,
                "{flag} {host}: that host is already the {taken_by}; LiveKit takes every path \
                 of the RTC host but the authorization service's, so it needs a host of its \
                 own, e.g. --rtc-host rtc.example.com"
            ),
            Error::RtcDefaultHostTooLong { server_name } => write!(
                f,
                "the default RTC host rtc.{server_name} is too long for DNS; name it yourself, \
                 e.g. --rtc-host rtc.example.com"
            ),
            Error::RtcUpstreamTaken {
                flag,
                upstream,
                taken_by,
            } => write!(
                f,
                "{flag} {upstream} is {taken_by}; LiveKit and its authorization service each \
                 listen on a port of their own, e.g. --livekit-upstream 127.0.0.1:7880 \
                 --rtc-auth-upstream 127.0.0.1:8070"
            ),
            Error::RtcWellKnownFromHomeserver {
                proxy,
                homeserver,
                display_name,
                why,
            } => write!(
                f,
                "--rtc with --proxy {proxy}: {proxy} forwards /.well-known/matrix/ to \
                 {display_name} (--homeserver {homeserver}), {why}; use a proxy that serves \
                 the documents itself, e.g. --rtc --proxy nginx"
            ),
            Error::ElementWebHostTaken {
                flag,
                host,
                taken_by,
            } => write!(
                f,
                "{flag} {host}: that host is already the {taken_by}; Element Web needs a host of \
                 its own, since a page on the same origin as user content from the Matrix APIs \
                 would let that content script the client (cross-site scripting; Element Web's \
                 README, \"Separate domains\"), e.g. --element-web chat.example.com"
            ),
            Error::ElementWebCannotServe {
                proxy,
                display_name,
            } => write!(
                f,
                "--element-web with --proxy {proxy}: {display_name} cannot serve Element Web's \
                 folder of static files (HAProxy answers only with single files loaded at \
                 start, Traefik serves no files); use nginx, Apache or Caddy for it, or let \
                 {display_name} forward to Element's own server (its image), e.g. --proxy \
                 {proxy} --element-web chat.example.com --element-web-upstream 127.0.0.1:8081"
            ),
            Error::ElementWebNotYet { flag, with } => write!(
                f,
                "{flag} with {with} is not supported yet: mxproxy writes it for the proxies on \
                 a host only, e.g. --proxy nginx {flag} ... without {with}"
            ),
            Error::ElementWebUpstreamInContainer { flag, upstream } => write!(
                f,
                "{flag} {upstream} points at the proxy container itself in the compose stack; \
                 the proxy reaches Element Web's image by its service name, e.g. {flag} \
                 element-web:80 (the default)"
            ),
            Error::BaseRedirectOnHomeserver { flag, server_name } => write!(
                f,
                "{flag}: the server name {server_name} is also the homeserver host, whose paths \
                 are the homeserver's; the redirect needs the homeserver on a host of its own, \
                 e.g. --homeserver-host matrix.{server_name} {flag} element-web"
            ),
            Error::KubernetesOnly { flag, example } => write!(
                f,
                "{flag} only applies to Kubernetes manifests, which --kubernetes asks for, \
                 e.g. --kubernetes {example}"
            ),
            Error::KubernetesRefuses { flag, why, example } => {
                write!(f, "{flag} cannot be used with --kubernetes: {why}, e.g. {example}")
            }
            Error::KubernetesFederationPort {
                port,
                server_name,
                example,
            } => write!(
                f,
                "--federation-port {port} cannot be used with --kubernetes: an Ingress (and a Gateway's \
                 HTTPRoute) carries HTTPS on port 443 only, so federation cannot get a port of its own there. \
                 With --kubernetes other servers find the homeserver through \
                 https://{server_name}/.well-known/matrix/server on port 443; leave out --federation-port, \
                 e.g. {example}"
            ),
            Error::KubernetesHomeserver {
                homeserver,
                display_name,
                example,
            } => write!(
                f,
                "--homeserver {homeserver} cannot be used with --kubernetes yet: {display_name} needs a \
                 generated config file with secrets before its first start, and the manifests configure \
                 the homeserver by environment only (conduit, continuwuity, tuwunel), e.g. {example}"
            ),
            Error::KubernetesRouting { example } => write!(
                f,
                "--kubernetes needs to know how traffic enters the cluster: --ingress-class nginx \
                 (ingress-nginx), --ingress-class traefik, or --gateway NAME for an existing Gateway API \
                 Gateway, e.g. {example}"
            ),
            Error::TwoRoutings { class, gateway } => write!(
                f,
                "--ingress-class {class} and --gateway {gateway} are two ways to route into the \
                 cluster; choose one, e.g. --kubernetes --gateway {gateway}"
            ),
            Error::KubernetesIssuer { example } => write!(
                f,
                "--kubernetes with --tls acme gets the certificate from cert-manager; name the \
                 ClusterIssuer that signs it with --cluster-issuer (or use --tls files with a \
                 Secret you create, or --tls none), e.g. {example}"
            ),
            Error::GatewayHoldsCertificate { flag, why, example } => write!(
                f,
                "{flag} cannot be used with --gateway: the Gateway's HTTPS listener holds the \
                 certificate, {why}, e.g. {example}"
            ),
            Error::WorkerRefused {
                given,
                why,
                example,
            } => write!(f, "{given}: {why}, e.g. {example}"),
            Error::TemplateRead { path, source } => {
                write!(f, "--templates: cannot read `{}`: {source}", path.display())
            }
            Error::CdnFederationPort {
                flag,
                port,
                cdn,
                ports,
            } => write!(
                f,
                "{flag} {port}: {cdn} does not forward port {port} (its proxy takes HTTPS on \
                 {ports} only), so other servers could not reach federation; let federation \
                 ride on 443 with the clients, e.g. {flag} 443 (or leave it out)"
            ),
        }
    }
}

impl std::error::Error for Error {}
