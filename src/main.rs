fn main() -> std::process::ExitCode {
    mxproxy::run(std::env::args_os())
}
