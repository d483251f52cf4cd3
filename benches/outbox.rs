// Placeholder so the workspace builds until the outbox benchmark lands; replace it.
fn main() {}
