import Testing

/// The tests that open hundreds of descriptors or count the open ones.
///
/// Serialized so they never overlap each other; each also runs under
/// `FixedDescriptorNumbers.exclusively` where it reaches the reserved numbers, and compares
/// descriptor counts with a tolerance, because tests outside this suite still run
/// alongside. Tests join it with `extension DescriptorHeavyTests`.
@Suite(.serialized) struct DescriptorHeavyTests {}
