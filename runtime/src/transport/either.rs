//! One of two futures with the same output, as one future: what a generated `Dispatch`
//! returns, nested into a balanced tree with one leaf per event.
//!
//! An `async fn handle` would keep the whole message as its argument for as long as the
//! handler's future runs, beside that future (which holds the event again): about three
//! times the largest event in every future around it, each of which the engine moves per
//! delivery. Matching the event first and returning the chosen handler's future in this
//! tree holds each delivery's event once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// The future of one of two branches.
    #[project = EitherProj]
    #[derive(Debug)]
    pub enum Either<L, R> {
        Left { #[pin] future: L },
        Right { #[pin] future: R },
    }
}

impl<L, R> Future for Either<L, R>
where
    L: Future,
    R: Future<Output = L::Output>,
{
    type Output = L::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<L::Output> {
        match self.project() {
            EitherProj::Left { future } => future.poll(cx),
            EitherProj::Right { future } => future.poll(cx),
        }
    }
}
