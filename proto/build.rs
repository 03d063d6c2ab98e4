//! Compiles the .proto files with the system `protoc` (Debian's `protobuf-compiler`): the store's
//! own schemas always, etcd's v3 API and capstan's raft transport (with tonic services and clients) under the
//! `grpc` feature.
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
    #[cfg(feature = "grpc")]
    {
        let etcd = [
            "proto/etcd/kv.proto",
            "proto/etcd/rpc.proto",
            "proto/capstan/raft/v1/raft.proto",
        ];
        for p in etcd {
            println!("cargo:rerun-if-changed={p}");
        }
        tonic_prost_build::configure()
            .bytes(".")
            .extern_path(".capstan.store.v1", "crate::store")
            .build_client(true)
            .build_server(true)
            .compile_protos(&etcd, &["proto"])?;
    }
    Ok(())
}
