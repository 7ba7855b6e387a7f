fn main() -> std::process::ExitCode {
    sockq_cli::main()
}
