//! The server's request bodies and answers: every API message decoder over
//! the same input errors or accepts exactly its canonical encoding.
#![no_main]

use lexvault_core::api::{self, *};
use libfuzzer_sys::fuzz_target;

fn check<T>(data: &[u8])
where
    T: for<'b> minicbor::Decode<'b, ()> + minicbor::Encode<()>,
{
    if let Ok(m) = api::decode::<T>(data) {
        assert_eq!(api::encode(&m), data);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<RegisterIdentity>(data);
    check::<CertifyMember>(data);
    check::<CreateMatter>(data);
    check::<UploadEnvelope>(data);
    check::<AddGrant>(data);
    check::<Revoke>(data);
    check::<AddStanzas>(data);
    check::<CreateLink>(data);
    check::<OpenLink>(data);
    check::<PasswordRegistrationStart>(data);
    check::<PasswordRegistrationFinish>(data);
    check::<LoginStart>(data);
    check::<LoginFinish>(data);
    check::<Receipt>(data);
    check::<ActorHead>(data);
    check::<LogCheckpoint>(data);
    check::<LogEntries>(data);
    check::<LogProof>(data);
    check::<LogBundle>(data);
    check::<IdentityInfo>(data);
    check::<IdentityList>(data);
    check::<DocumentView>(data);
    check::<DocumentList>(data);
    check::<OpenedLink>(data);
    check::<ErrorBody>(data);
});
