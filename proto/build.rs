//! Compiles the .proto files with the system `protoc` (Debian's `protobuf-compiler`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/capstan/store/v1/store.proto",
        "proto/capstan/store/v1/records.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    prost_build::Config::new()
        .bytes(["."])
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
