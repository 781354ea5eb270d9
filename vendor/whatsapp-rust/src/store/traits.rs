pub use wacore::store::traits::*;
