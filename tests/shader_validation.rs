//! Every shader parses and validates with naga (no device needed), with the capabilities a
//! portable WebGPU device has (no f64, no 64-bit integers), and every kernel descriptor agrees
//! with its shader: entry point, workgroup size, binding order, access mode, and the byte size
//! of each `#[repr(C)]` struct or array element the Rust side uploads.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, ArraySize, ShaderStage, StorageAccess, TypeInner};
use neuropop::kernels::{BindingKind, Layout, ALL};
use neuropop::shaders::{compose, SOURCES};

fn validate(name: &str, src: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: parse error:\n{}", e.emit_to_string(src)));
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: validation error:\n{}", e.emit_to_string(src)));
    module
}

#[test]
fn embedded_sources_match_the_shaders_folder() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut on_disk = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read shaders/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "wgsl") {
                let rel = path
                    .strip_prefix(&root)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                on_disk.push((rel, std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    on_disk.sort();
    let mut embedded: Vec<(String, String)> = SOURCES
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    embedded.sort();
    let names = |v: &[(String, String)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&on_disk),
        names(&embedded),
        "shaders/ and shaders::SOURCES list different files"
    );
    assert_eq!(on_disk, embedded);
}

#[test]
fn shared_files_validate_on_their_own() {
    for (path, _) in SOURCES.iter().filter(|(p, _)| p.starts_with("shared/")) {
        validate(path, &compose(path).expect("compose"));
    }
}

#[test]
fn every_kernel_validates_and_matches_its_descriptor() {
    // Every kernel file (not shared) has a descriptor.
    for (path, _) in SOURCES.iter().filter(|(p, _)| !p.starts_with("shared/")) {
        assert!(
            ALL.iter().any(|d| d.shader == *path),
            "{path} has no KernelDesc in kernels::ALL"
        );
    }
    for desc in ALL {
        let src = compose(desc.shader).expect("compose");
        let module = validate(desc.shader, &src);

        let eps: Vec<_> = module
            .entry_points
            .iter()
            .filter(|e| e.name == desc.entry)
            .collect();
        assert_eq!(
            eps.len(),
            1,
            "{}: entry point `{}` not found",
            desc.name,
            desc.entry
        );
        assert_eq!(eps[0].stage, ShaderStage::Compute, "{}", desc.name);
        if desc.overrides.contains(&"WG") {
            assert!(
                eps[0].workgroup_size_overrides.is_some(),
                "{}: WG is declared but is not the workgroup size",
                desc.name
            );
        } else {
            assert_eq!(
                eps[0].workgroup_size, desc.workgroup_size,
                "{}: workgroup size",
                desc.name
            );
        }
        assert_eq!(
            desc.name, desc.entry,
            "{}: the CPU twin is named after the entry point",
            desc.name
        );

        let declared: Vec<String> = module
            .overrides
            .iter()
            .filter_map(|(_, o)| o.name.clone())
            .collect();
        let mut want: Vec<String> = desc.overrides.iter().map(|s| s.to_string()).collect();
        let mut got = declared.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{}: override constants", desc.name);

        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).expect("layout");
        let mut seen = vec![false; desc.bindings.len()];
        for (_, var) in module.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            let name = var.name.clone().unwrap_or_default();
            assert_eq!(rb.group, 0, "{}: `{name}` is not in group 0", desc.name);
            let i = rb.binding as usize;
            assert!(
                i < desc.bindings.len(),
                "{}: `{name}` at binding {i} is not in the descriptor",
                desc.name
            );
            let b = &desc.bindings[i];
            seen[i] = true;
            assert_eq!(b.name, name, "{}: binding {i}", desc.name);
            let kind = match var.space {
                AddressSpace::Uniform => BindingKind::Uniform,
                AddressSpace::Storage { access } if access.contains(StorageAccess::STORE) => {
                    BindingKind::StorageReadWrite
                }
                AddressSpace::Storage { .. } => BindingKind::StorageRead,
                other => panic!("{}: `{name}` in unsupported space {other:?}", desc.name),
            };
            let declared = match b.kind {
                BindingKind::UniformDynamic => BindingKind::Uniform,
                k => k,
            };
            assert_eq!(declared, kind, "{}: access of `{name}`", desc.name);
            let inner = &module.types[var.ty].inner;
            match (b.layout, inner) {
                (Layout::Struct(size), TypeInner::Struct { .. }) => {
                    assert_eq!(
                        layouter[var.ty].size as usize, size,
                        "{}: size of `{name}`",
                        desc.name
                    );
                }
                (
                    Layout::Array(stride),
                    TypeInner::Array {
                        size: ArraySize::Dynamic,
                        stride: s,
                        ..
                    },
                ) => {
                    assert_eq!(
                        *s as usize, stride,
                        "{}: element stride of `{name}`",
                        desc.name
                    );
                }
                (l, t) => panic!("{}: `{name}` is {t:?} in WGSL but {l:?} in Rust", desc.name),
            }
        }
        for (i, s) in seen.iter().enumerate() {
            assert!(
                s,
                "{}: descriptor binding {i} (`{}`) is not in the shader",
                desc.name, desc.bindings[i].name
            );
        }
    }
}
