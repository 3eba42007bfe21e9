//! Randomized scenarios for the seed sweep (filled in below).
