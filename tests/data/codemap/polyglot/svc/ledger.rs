use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Ledger {
    entries: HashMap<String, i64>,
}

pub trait Balance {
    fn balance(&self, account: &str) -> i64;
}

impl Ledger {
    pub fn new() -> Self {
        Ledger { entries: HashMap::new() }
    }

    pub fn post(&mut self, account: &str, amount: i64) -> Result<(), String> {
        *self.entries.entry(account.to_string()).or_insert(0) += amount;
        Ok(())
    }
}

impl Balance for Ledger {
    fn balance(&self, account: &str) -> i64 {
        *self.entries.get(account).unwrap_or(&0)
    }
}

pub enum Kind {
    Debit,
    Credit,
}
