//! Custom scalars.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A position in the global event log (1, 2, 3, …). Every mutation returns the position it
/// wrote; pass it as `minPosition` to read your own writes, or as `after` to resume a feed.
/// Serialised as a JSON number (exact up to 2^53); strings of digits are accepted as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub u64);

#[Scalar(name = "Position")]
impl ScalarType for Position {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n.as_u64().map(Position).ok_or_else(|| {
                InputValueError::custom(format!("{n} is not a position (a whole number ≥ 0)"))
            }),
            Value::String(s) => s.parse().map(Position).map_err(|_| {
                InputValueError::custom(format!("{s:?} is not a position (a whole number ≥ 0)"))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}
