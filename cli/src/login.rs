//! Password login on a new device (OPAQUE) and password registration.
