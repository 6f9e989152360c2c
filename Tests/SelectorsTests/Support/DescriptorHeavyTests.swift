import Testing

/// The tests that open hundreds of descriptors or count the open ones.
///
/// Serialized so they never overlap each other; each runs holding the reservation of
/// `FixedDescriptorNumbers` (the numbers it reaches), and compares descriptor counts with a
/// tolerance, because tests outside this suite still run alongside. Tests join it with
/// `extension DescriptorHeavyTests`.
@Suite(.serialized, .reservingDescriptorNumbers) struct DescriptorHeavyTests {}
