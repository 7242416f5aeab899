//! [`TypedRecorder`]: every recording in memory in its own element type, so a caller (the
//! Python module) can hand each array over as it is, with no conversion and no further copy.

use super::{check_close, check_write, ArrayId, ArrayInfo, Data, Recorder};
use crate::error::Result;

/// The values of one array, in the array's own type.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 32-bit unsigned integers.
    U32(Vec<u32>),
}

impl Values {
    fn with_capacity(info: &ArrayInfo) -> Self {
        // Streamed arrays grow as they arrive; a huge announced shape reserves at most 64 Mi
        // values up front.
        let n = info.len().min(1 << 26) as usize;
        match info.dtype {
            super::Dtype::F32 => Values::F32(Vec::with_capacity(n)),
            super::Dtype::F64 => Values::F64(Vec::with_capacity(n)),
            super::Dtype::U32 => Values::U32(Vec::with_capacity(n)),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::U32(v) => v.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A recorded array held in memory in its own type.
#[derive(Debug, Clone)]
pub struct TypedArray {
    /// What it is.
    pub info: ArrayInfo,
    /// The values, row-major.
    pub values: Values,
}

/// Keeps every recording in memory in its own element type.
#[derive(Debug, Default)]
pub struct TypedRecorder {
    /// Arrays in the order they were announced.
    pub arrays: Vec<TypedArray>,
}

impl TypedRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The array named `name`.
    pub fn get(&self, name: &str) -> Option<&TypedArray> {
        self.arrays.iter().find(|a| a.info.name == name)
    }
}

impl Recorder for TypedRecorder {
    fn array(&mut self, info: ArrayInfo) -> Result<ArrayId> {
        self.arrays.push(TypedArray {
            values: Values::with_capacity(&info),
            info,
        });
        Ok(ArrayId(self.arrays.len() - 1))
    }

    fn write(&mut self, id: ArrayId, data: Data<'_>) -> Result<()> {
        let a = &mut self.arrays[id.0];
        check_write(&a.info, a.values.len() as u64, &data)?;
        match (&mut a.values, data) {
            (Values::F32(v), Data::F32(d)) => v.extend_from_slice(d),
            (Values::F64(v), Data::F64(d)) => v.extend_from_slice(d),
            (Values::U32(v), Data::U32(d)) => v.extend_from_slice(d),
            // check_write has compared the types.
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, id: ArrayId) -> Result<()> {
        let a = &self.arrays[id.0];
        check_close(&a.info, a.values.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Dtype;

    #[test]
    fn keeps_each_type_and_checks_lengths() {
        let mut r = TypedRecorder::new();
        let info = |name: &str, dtype| ArrayInfo {
            name: name.into(),
            shape: vec![2, 2],
            dtype,
            description: String::new(),
        };
        let a = r.array(info("a", Dtype::F32)).unwrap();
        let b = r.array(info("b", Dtype::U32)).unwrap();
        r.write(a, Data::F32(&[1.5, 2.5])).unwrap();
        r.write(a, Data::F32(&[3.5, 4.5])).unwrap();
        assert!(
            r.write(b, Data::F32(&[1.0])).is_err(),
            "wrong type accepted"
        );
        r.write(b, Data::U32(&[7, 8, 9])).unwrap();
        assert!(r.close(b).is_err(), "short array closed");
        r.close(a).unwrap();
        assert_eq!(
            r.get("a").unwrap().values,
            Values::F32(vec![1.5, 2.5, 3.5, 4.5])
        );
        assert!(
            r.write(a, Data::F32(&[0.0])).is_err(),
            "overfull array accepted"
        );
    }
}
