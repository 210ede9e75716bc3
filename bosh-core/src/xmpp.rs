//! XEP-0206 upstream stream framing (being written).
