//! OTP's stack server: a GenServer with a tagged request type, a bounded mailbox,
//! a crash reported to the caller that caused it, and a graceful stop.
//!
//! ```text
//! cargo run --example stack_server
//! ```

use std::time::Duration;

use steadfast::gen_server::{CallError, Context, Exit, GenServer, Mailbox, Options};

#[derive(Default)]
struct Stack {
    items: Vec<String>,
}

/// The tagged request type: each variant is one kind of call.
enum Request {
    Push(String),
    Pop,
    Peek,
    Len,
}

#[derive(Debug, PartialEq)]
enum Reply {
    Done,
    Item(Option<String>),
    Len(usize),
}

#[derive(Debug)]
struct StackError(String);

impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl GenServer for Stack {
    type Call = Request;
    type Reply = Reply;
    type Cast = String;
    type Error = StackError;

    async fn handle_call(&mut self, request: Request, _ctx: &mut Context<Self>) -> Result<Reply, StackError> {
        Ok(match request {
            Request::Push(item) if item.is_empty() => {
                return Err(StackError("empty items are not allowed".into()));
            }
            Request::Push(item) => {
                self.items.push(item);
                Reply::Done
            }
            Request::Pop => Reply::Item(self.items.pop()),
            Request::Peek => Reply::Item(self.items.last().cloned()),
            Request::Len => Reply::Len(self.items.len()),
        })
    }

    async fn handle_cast(&mut self, item: String, _ctx: &mut Context<Self>) -> Result<(), StackError> {
        self.items.push(item);
        Ok(())
    }

    async fn terminate(&mut self, exit: &Exit<'_, StackError>) {
        println!(
            "stack terminating ({exit:?}) with {} items left",
            self.items.len()
        );
    }
}

#[tokio::main]
async fn main() {
    let options = Options::default()
        .mailbox(Mailbox::Bounded(128))
        .call_timeout(Duration::from_secs(1));
    let stack = Stack::default()
        .start_with(options)
        .await
        .expect("init cannot fail");

    stack.cast("a".to_owned()).unwrap();
    stack.call(Request::Push("b".to_owned())).await.unwrap();
    println!("peek = {:?}", stack.call(Request::Peek).await.unwrap());
    println!("pop  = {:?}", stack.call(Request::Pop).await.unwrap());
    println!("len  = {:?}", stack.call(Request::Len).await.unwrap());

    // A handler error stops the server; the caller that caused it is told why.
    match stack.call(Request::Push(String::new())).await {
        Err(CallError::Failed(error)) => println!("push failed and stopped the server: {error}"),
        other => println!("unexpected: {other:?}"),
    }
    // Every later call is refused at once, never a hang.
    println!("after the crash: {}", stack.call(Request::Len).await.unwrap_err());
}
