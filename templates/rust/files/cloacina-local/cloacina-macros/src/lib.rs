//! Stand-ins for the engine's `#[workflow]`, `#[packaged_workflow]` and `#[task]`
//! attributes, written against `proc_macro` alone. They accept the engine's attribute
//! syntax, check it (unknown keys and malformed values are compile errors), leave the
//! module and functions as written, and export `cloacina_workflow_metadata`, which returns
//! the workflow's name and task graph as JSON (also readable from the library file).

use proc_macro::{Delimiter, Group, TokenStream, TokenTree};

const TASK_KEYS: &[&str] = &[
    "id", "dependencies", "retry_attempts", "retry_backoff", "retry_delay_ms",
    "retry_max_delay_ms", "retry_condition", "retry_jitter", "trigger_rules",
];
const WORKFLOW_KEYS: &[&str] = &["name", "package", "description", "author", "tenant"];

fn error(message: &str) -> TokenStream {
    format!("compile_error!({message:?});").parse().unwrap()
}

/// `key = value` pairs, split at top-level commas.
fn pairs(attr: TokenStream) -> Result<Vec<(String, Vec<TokenTree>)>, String> {
    let mut out = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    let mut items: Vec<Vec<TokenTree>> = Vec::new();
    for tree in attr {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => items.push(std::mem::take(&mut current)),
            _ => current.push(tree),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    for item in items {
        match (item.first(), item.get(1)) {
            (Some(TokenTree::Ident(key)), Some(TokenTree::Punct(eq))) if eq.as_char() == '=' => {
                out.push((key.to_string(), item[2..].to_vec()));
            }
            _ => return Err("expected `name = value` arguments".to_string()),
        }
    }
    Ok(out)
}

fn string_literal(value: &[TokenTree]) -> Option<String> {
    match value {
        [TokenTree::Literal(lit)] => {
            let text = lit.to_string();
            if text.starts_with('"') && text.ends_with('"') && text.len() >= 2 {
                Some(text[1..text.len() - 1].replace("\\\"", "\"").replace("\\\\", "\\"))
            } else if text.starts_with('r') {
                let start = text.find('"')? + 1;
                let end = text.rfind('"')?;
                Some(text[start..end].to_string())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn string_list(value: &[TokenTree]) -> Option<Vec<String>> {
    match value {
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::Bracket => {
            let mut out = Vec::new();
            for tree in g.stream() {
                match &tree {
                    TokenTree::Punct(p) if p.as_char() == ',' => {}
                    _ => out.push(string_literal(&[tree])?),
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct TaskInfo {
    id: String,
    dependencies: Vec<String>,
}

fn check_task(attr: TokenStream) -> Result<TaskInfo, String> {
    let mut id = None;
    let mut dependencies = Vec::new();
    for (key, value) in pairs(attr)? {
        if !TASK_KEYS.contains(&key.as_str()) {
            return Err(format!("#[task] has no argument `{key}`"));
        }
        match key.as_str() {
            "id" => id = Some(string_literal(&value).ok_or("#[task] id must be a string")?),
            "dependencies" => {
                dependencies = string_list(&value)
                    .ok_or("#[task] dependencies must be a list of strings")?
            }
            _ => {}
        }
    }
    Ok(TaskInfo { id: id.ok_or("#[task] needs id = \"...\"")?, dependencies })
}

#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Err(message) = check_task(attr) {
        return error(&message);
    }
    let is_fn = item.clone().into_iter().any(|t| matches!(&t, TokenTree::Ident(i) if i.to_string() == "fn"));
    if !is_fn {
        return error("#[task] goes on a function");
    }
    item
}

fn tasks_in(body: TokenStream) -> Result<Vec<TaskInfo>, String> {
    let trees: Vec<TokenTree> = body.into_iter().collect();
    let mut out = Vec::new();
    for (i, tree) in trees.iter().enumerate() {
        let (TokenTree::Punct(hash), Some(TokenTree::Group(attr))) = (tree, trees.get(i + 1)) else {
            continue;
        };
        if hash.as_char() != '#' || attr.delimiter() != Delimiter::Bracket {
            continue;
        }
        let inner: Vec<TokenTree> = attr.stream().into_iter().collect();
        if let [TokenTree::Ident(name), TokenTree::Group(args)] = inner.as_slice() {
            if name.to_string() == "task" && args.delimiter() == Delimiter::Parenthesis {
                out.push(check_task(args.stream())?);
            }
        }
    }
    Ok(out)
}

fn workflow_impl(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut name = None;
    let mut package = String::new();
    let args = match pairs(attr) {
        Ok(args) => args,
        Err(message) => return error(&message),
    };
    for (key, value) in args {
        if !WORKFLOW_KEYS.contains(&key.as_str()) {
            return error(&format!("#[workflow] has no argument `{key}`"));
        }
        let Some(text) = string_literal(&value) else {
            return error(&format!("#[workflow] {key} must be a string"));
        };
        match key.as_str() {
            "name" => name = Some(text),
            "package" => package = text,
            _ => {}
        }
    }
    let Some(name) = name else {
        return error("#[workflow] needs name = \"...\"");
    };
    let body = item.clone().into_iter().find_map(|t| match t {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g),
        _ => None,
    });
    let Some(body): Option<Group> = body else {
        return error("#[workflow] goes on an inline module: pub mod name { ... }");
    };
    let tasks = match tasks_in(body.stream()) {
        Ok(tasks) => tasks,
        Err(message) => return error(&message),
    };
    let task_json: Vec<String> = tasks
        .iter()
        .map(|t| {
            let deps: Vec<String> = t.dependencies.iter().map(|d| json_string(d)).collect();
            format!("{{\"id\":{},\"dependencies\":[{}]}}", json_string(&t.id), deps.join(","))
        })
        .collect();
    let metadata = format!(
        "cloacina-metadata-v1:{{\"workflow\":{},\"package\":{},\"tasks\":[{}]}}\0",
        json_string(&name), json_string(&package), task_json.join(",")
    );
    let exported: TokenStream = format!(
        "#[doc(hidden)] pub static CLOACINA_WORKFLOW_METADATA: &str = {metadata:?};\n\
         #[doc(hidden)] #[no_mangle] pub extern \"C\" fn cloacina_workflow_metadata() -> *const u8 {{\n\
             CLOACINA_WORKFLOW_METADATA.as_ptr()\n\
         }}"
    )
    .parse()
    .unwrap();
    let mut out = item;
    out.extend(exported);
    out
}

#[proc_macro_attribute]
pub fn workflow(attr: TokenStream, item: TokenStream) -> TokenStream {
    workflow_impl(attr, item)
}

#[proc_macro_attribute]
pub fn packaged_workflow(attr: TokenStream, item: TokenStream) -> TokenStream {
    workflow_impl(attr, item)
}
