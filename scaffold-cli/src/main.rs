//! The `scaffold` binary: everything it does is in the library.

fn main() {
    scaffold_cli::main();
}
