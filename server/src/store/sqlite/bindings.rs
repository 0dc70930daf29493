//! [`BindingStore`](crate::store::BindingStore) on SQLite.

use lexvault_core::key_bundle::verify_key_bundle;
use rusqlite::{OptionalExtension as _, params};

use super::{SqliteStore, fixed, from_i64};
use crate::store::{BindingStore, DigestBytes, EventKind, IdentityRow, KeyBytes, StoreResult};

impl BindingStore for SqliteStore {
    fn binding_leaf(
        &self,
        kind: EventKind,
        actor: &KeyBytes,
        subject: &DigestBytes,
    ) -> StoreResult<Option<u64>> {
        self.read(|c| {
            let leaf: Option<Option<i64>> = c
                .prepare_cached(
                    "SELECT leaf FROM events
                     WHERE subject = ?1 AND kind = ?2 AND actor = ?3 AND leaf IS NOT NULL
                     ORDER BY leaf DESC LIMIT 1",
                )?
                .query_row(
                    params![subject.as_slice(), kind.name(), actor.as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(leaf.flatten().map(from_i64))
        })
    }

    fn identities_named(&self, display_name: &str) -> StoreResult<Vec<(KeyBytes, IdentityRow)>> {
        self.read(|c| {
            // The name's bytes appear verbatim in the bundle's CBOR: a cheap
            // filter in SQL, then an exact comparison of the decoded name.
            let mut stmt = c.prepare_cached(
                "SELECT signing_key, bundle, certificate FROM identities
                 WHERE instr(bundle, ?1) > 0 ORDER BY signing_key",
            )?;
            let rows = stmt.query_map([display_name.as_bytes()], |r| {
                Ok((
                    fixed::<32>(r.get(0)?)?,
                    IdentityRow {
                        bundle: r.get(1)?,
                        certificate: r.get(2)?,
                    },
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (key, identity) = row?;
                let named = verify_key_bundle(&identity.bundle).is_ok_and(|b| {
                    b.bundle().display_name() == display_name
                        && b.identity().signing.to_bytes() == key
                });
                if named {
                    out.push((key, identity));
                }
            }
            Ok(out)
        })
    }
}
