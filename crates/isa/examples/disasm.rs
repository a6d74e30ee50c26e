//! Disassemble hex instruction words given on the command line or stdin, one
//! per line: `cargo run -p cowix-isa --example disasm -- 00150513 0505`.
//! A value of at most 4 hex digits whose low bits are not `11` is a 16-bit
//! parcel. Prints `<hex>\t<disassembly>`.

use std::io::BufRead;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines: Vec<String> = if args.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect()
    } else {
        args
    };
    for line in lines {
        let text = line.trim().trim_start_matches("0x");
        match u32::from_str_radix(text, 16) {
            Ok(raw) => println!("{text}\t{}", cowix_isa::disassemble_raw(raw, 0)),
            Err(_) => println!("{text}\t?"),
        }
    }
}
