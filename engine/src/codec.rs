//! The one codec: every byte motcua stores or exports is encoded and decoded here.
