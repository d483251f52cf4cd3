//! mock-smev: the SMEV 3 emulator. It arrives with the protocol work; this binary only says so.

fn main() {
    eprintln!("mock-smev is not built yet: it arrives with the SMEV message-exchange work (envelopes, client, emulator).");
    std::process::exit(2);
}
