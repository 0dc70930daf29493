//! [`BindingStore`](crate::store::BindingStore) on SQLite.

use lexvault_core::key_bundle::verify_key_bundle;
use rusqlite::{OptionalExtension as _, params};

use super::{SqliteStore, fixed, from_i64};
use crate::store::{
    BindingStore, DigestBytes, EventKind, IdentityRow, KeyBytes, StoreError, StoreResult,
};

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
        // The bundle's field 3 appears verbatim in its canonical CBOR: key
        // 3, then the name as a text string, header included. A cheap,
        // precise filter in SQL; the decoded name is then compared exactly.
        let mut needle = vec![3u8];
        minicbor::encode(display_name, &mut needle)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT signing_key, bundle, certificate FROM identities
                 WHERE instr(bundle, ?1) > 0 ORDER BY signing_key",
            )?;
            let rows = stmt.query_map([needle.as_slice()], |r| {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use lexvault_core::key_bundle::KeyBundle;
    use lexvault_core::keys::Identity;
    use lexvault_core::signed::RecordDigest;
    use rand_core::UnwrapErr;

    use super::*;
    use crate::store::{IdentityStore, NewEvent};

    fn register(store: &SqliteStore, seed: u8, name: &str) -> (KeyBytes, DigestBytes) {
        let id = Identity::generate(&mut UnwrapErr(getrandom::SysRng));
        let bundle = KeyBundle::create(&id, name, 1).unwrap();
        let key = id.public().signing.to_bytes();
        let digest = bundle.digest().0;
        let event = NewEvent {
            at: 1,
            kind: EventKind::Registered,
            actor: key,
            matter_id: None,
            document_id: None,
            version: None,
            subject: Some(digest),
            request: vec![seed],
            chain: None,
            receipt: None,
        };
        store
            .register_identity(&key, bundle.as_bytes(), event)
            .unwrap();
        (key, digest)
    }

    #[test]
    fn names_match_exactly_and_entries_are_found_by_subject_kind_and_actor() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("b.sqlite3")).unwrap();
        let (carla, carla_bundle) = register(&store, 1, "Carla Client");
        let _ = register(&store, 2, "Carla Clientele");
        let _ = register(&store, 3, "carla client");
        let (twin, _) = register(&store, 4, "Carla Client");

        let mut named: Vec<KeyBytes> = store
            .identities_named("Carla Client")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        named.sort_unstable();
        let mut expected = vec![carla, twin];
        expected.sort_unstable();
        assert_eq!(named, expected);
        assert!(store.identities_named("Carla").unwrap().is_empty());

        assert_eq!(
            store
                .binding_leaf(EventKind::Registered, &carla, &carla_bundle)
                .unwrap(),
            Some(0)
        );
        // Another actor, kind or subject finds nothing.
        assert_eq!(
            store
                .binding_leaf(EventKind::Registered, &twin, &carla_bundle)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .binding_leaf(EventKind::Certified, &carla, &carla_bundle)
                .unwrap(),
            None
        );
        let other = RecordDigest::of(b"other").0;
        assert_eq!(
            store
                .binding_leaf(EventKind::Registered, &carla, &other)
                .unwrap(),
            None
        );
    }
}
