//! What calls cost: prices per million tokens by provider and model, the
//! table a model finds its price in, and the cost of one call's usage.
//! Plain data and functions; the config fills the table and `account`
//! prices each call with it.

mod bundled;
mod cost;
pub(crate) mod litellm;
mod table;

pub(crate) use bundled::bundled;
pub(crate) use cost::cost_usd;
pub(crate) use table::{Pattern, Price, PriceTable};
