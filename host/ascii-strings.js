// A compiler transform, asc's afterParse hook, named in asconfig.json so that every compile of the
// three modules runs it: string literals that are only printed are stored as ASCII bytes, one byte
// a character, not as AssemblyScript strings (UTF-16, two bytes a character, after a 20-byte
// header). Why: the driver must fit in 32 KiB (host/build.js, DRIVER_BYTES_MAX), and its log's
// words were most of its data; the console prints ASCII only anyway (assembly/common/console.ts).
//
// In the sources under assembly/, a string literal (or a `c ? "a" : "b"` of literals)
//   put("reset ok")       given to put or putLine of assembly/common/console.ts,
//   ascii("reset ok")     given to console.ts's marker ascii(), which it replaces, or
//   field("MQES", v)      given to a parameter declared `Text`, of a function of the same file or
//                         one it imports,
// is made a Text (console.ts): the address of its bytes, a length byte first, which put, putLine
// and putText print. Each text is a constant `__ascii_N` of a library file the transform adds
// (~lib/ascii-strings.ts), all of their bytes one memory.data<u8> array: a text said twice is
// stored once, and the texts cost one data segment, not one each. A literal with a character
// that is not printable ASCII (tab, newline, carriage return and backspace aside), or longer
// than 255 characters, is a build error that names its file and line.
//
// An assertion of the sources, `assert(cond, "message")` (AssemblyScript's builtin, not a function
// of the same name), becomes `__assert_ascii(cond, message, file, line, column)`: its message and
// its file name are Texts too, and its failure calls the `abort` import with both addresses with
// bit 31 set, the mark that they are Texts (docs/abi.md, `abort`), where the builtin passes UTF-16
// strings of ~20 + 2 bytes a character, each a data segment of its own. Line and column are the
// ones the builtin reports.
//
// Any other string is left alone: the standard library's own aborts (UTF-16, bit 31 clear), a
// string variable given to put (which prints it as before).
import { Transform } from "assemblyscript/transform";
import {
  Node,
  Source,
  CallExpression,
  IdentifierExpression,
  StringLiteralExpression,
  TernaryExpression,
  ParenthesizedExpression,
  ImportStatement,
  FunctionDeclaration,
  NamedTypeNode,
  DiagnosticCode,
} from "assemblyscript";

export const CONSOLE = "assembly/common/console"; // internal path: no .ts
const PRINTERS = new Set(["put", "putLine"]); // console.ts's, taking a string or a Text
const MARKER = "ascii"; // console.ts's ascii("...")
const TEXT_TYPE = "Text";
export const LIBRARY_PATH = "~lib/ascii-strings.ts";
const MAX_LENGTH = 255; // the length byte
const ALLOWED_CONTROLS = new Set([8, 9, 10, 13]); // \b \t \n \r: printed today (the shell's prompt, iochk's progress)
const ASSERT = "assert"; // the builtin, when no user function has its name
const ASSERT_ASCII = "__assert_ascii"; // what it becomes (librarySource)
export const ABORT_TEXT_FLAG = 0x80000000; // abort's msg/file: a Text, not a string (docs/abi.md)

const isUserSource = (s) => s.normalizedPath.startsWith("assembly/");

// Why a literal cannot be one byte a character, or null.
export function asciiProblem(text) {
  if (text.length > MAX_LENGTH) return `is ${text.length} characters, more than ${MAX_LENGTH} (split it)`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && !ALLOWED_CONTROLS.has(c)) || c > 126) {
      return `has a character that is not printable ASCII (U+${c.toString(16).padStart(4, "0").toUpperCase()} at ${i})`;
    }
  }
  return null;
}

// Top-level function declarations of a source, by name.
function functionsOf(source) {
  const m = new Map();
  for (const st of source.statements) if (st instanceof FunctionDeclaration) m.set(st.name.text, st);
  return m;
}

// local name -> { internalPath, foreignName } of a source's named imports.
function importsOf(source) {
  const m = new Map();
  for (const st of source.statements) {
    if (!(st instanceof ImportStatement) || !st.declarations) continue;
    for (const d of st.declarations)
      m.set(d.name.text, { internalPath: st.internalPath, foreignName: d.foreignName.text });
  }
  return m;
}

export default class AsciiStrings extends Transform {
  afterParse(parser) {
    const sources = parser.sources.filter(isUserSource);
    const byPath = new Map(parser.sources.map((s) => [s.internalPath, s]));
    const functions = new Map(sources.map((s) => [s, functionsOf(s)]));
    const imports = new Map(sources.map((s) => [s, importsOf(s)]));
    const texts = new Map(); // text -> constant name
    this.texts = texts;

    // The declaration a called name refers to: [source, FunctionDeclaration] or null.
    const resolve = (source, name) => {
      const own = functions.get(source)?.get(name);
      if (own) return [source, own];
      const imp = imports.get(source).get(name);
      if (!imp) return null;
      const target = byPath.get(imp.internalPath);
      const decl = target && (functions.get(target) ?? functionsOf(target)).get(imp.foreignName);
      return decl ? [target, decl] : null;
    };

    const isLiteral = (e) =>
      e instanceof StringLiteralExpression ||
      (e instanceof ParenthesizedExpression && isLiteral(e.expression)) ||
      (e instanceof TernaryExpression && isLiteral(e.ifThen) && isLiteral(e.ifElse));

    // The literal as its Text constant (a ternary's two branches each).
    const toText = (e) => {
      if (e instanceof ParenthesizedExpression) {
        e.expression = toText(e.expression);
        return e;
      }
      if (e instanceof TernaryExpression) {
        e.ifThen = toText(e.ifThen);
        e.ifElse = toText(e.ifElse);
        return e;
      }
      const problem = asciiProblem(e.value);
      if (problem) {
        const where = `${e.range.source.normalizedPath}:${e.range.source.lineAt(e.range.start)}`;
        parser.error(
          DiagnosticCode.User_defined_0,
          e.range,
          `${where}: the string literal ${JSON.stringify(e.value)} ${problem}: host/ascii-strings.js stores printed literals as ASCII`,
        );
        return e;
      }
      let name = texts.get(e.value);
      if (!name) texts.set(e.value, (name = `__ascii_${texts.size}`));
      return Node.createIdentifierExpression(name, e.range);
    };

    // The builtin assert with a literal message (or none) as __assert_ascii: message and file Texts.
    const rewriteAssert = (source, call) => {
      const args = call.args;
      if (args.length < 1 || args.length > 2 || (args.length === 2 && !isLiteral(args[1]))) return call;
      const range = call.range;
      const line = source.lineAt(range.start);
      const column = source.columnAt();
      const file = Node.createStringLiteralExpression(source.normalizedPath, range);
      const message = args.length === 2 ? toText(args[1]) : Node.createIntegerLiteralExpression(i64_new(0, 0), range);
      const callee = Node.createIdentifierExpression(ASSERT_ASCII, call.expression.range);
      const int = (v) => Node.createIntegerLiteralExpression(i64_new(v, 0), range);
      return Node.createCallExpression(callee, null, [args[0], message, toText(file), int(line), int(column)], range);
    };

    // A call: its literal arguments made Texts where the callee takes one; returns the node to keep.
    const rewriteCall = (source, call) => {
      if (!(call.expression instanceof IdentifierExpression)) return call;
      const found = resolve(source, call.expression.text);
      if (!found && call.expression.text === ASSERT && !call.typeArguments) return rewriteAssert(source, call);
      if (!found) return call;
      const [where, decl] = found;
      const args = call.args;
      if (where.internalPath === CONSOLE && decl.name.text === MARKER) {
        if (args.length !== 1 || !isLiteral(args[0])) {
          parser.error(
            DiagnosticCode.User_defined_0,
            call.range,
            `${source.normalizedPath}:${source.lineAt(call.range.start)}: ascii() takes one string literal`,
          );
          return call;
        }
        return toText(args[0]);
      }
      if (where.internalPath === CONSOLE && PRINTERS.has(decl.name.text)) {
        if (args.length === 1 && isLiteral(args[0])) args[0] = toText(args[0]);
        return call;
      }
      const params = decl.signature.parameters;
      for (let i = 0; i < args.length && i < params.length; i++) {
        const t = params[i].type;
        if (t instanceof NamedTypeNode && !t.name.next && t.name.identifier.text === TEXT_TYPE && isLiteral(args[i]))
          args[i] = toText(args[i]);
      }
      return call;
    };

    // Every node of a source, children first; a call may be replaced by what rewriteCall returns.
    const seen = new WeakSet();
    const walk = (source, node) => {
      if (node === null || typeof node !== "object" || seen.has(node) || node instanceof Source) return node;
      seen.add(node);
      for (const key of Object.keys(node)) {
        if (key === "range") continue;
        const v = node[key];
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) if (v[i] instanceof Node) v[i] = walk(source, v[i]);
        } else if (v instanceof Node) {
          node[key] = walk(source, v);
        }
      }
      return node instanceof CallExpression ? rewriteCall(source, node) : node;
    };
    for (const s of sources) for (let i = 0; i < s.statements.length; i++) s.statements[i] = walk(s, s.statements[i]);

    if (texts.size === 0) return;
    parser.parseFile(librarySource(texts), LIBRARY_PATH, false);
  }
}

// The library file: every text once, in one byte array (one data segment), each a constant address
// (@lazy, as the standard library's tables: compiled where used).
export function librarySource(texts) {
  const bytes = [];
  const consts = [];
  for (const [text, name] of texts) {
    consts.push(`@lazy export const ${name}: usize = __ascii + ${bytes.length}; // ${JSON.stringify(text)}`);
    bytes.push(text.length);
    for (let i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i));
  }
  return [
    "// Generated by host/ascii-strings.js: the printed string literals of assembly/, as ASCII texts",
    "// (a length byte, then the characters), and the assertion their asserts became.",
    `@lazy const __ascii: usize = memory.data<u8>([${bytes.join(", ")}]);`,
    ...consts,
    `@inline export function ${ASSERT_ASCII}<T>(value: T, message: usize, file: usize, line: u32, column: u32): T {`,
    `  if (!value) abort(changetype<string>(message == 0 ? <usize>0 : message | ${ABORT_TEXT_FLAG}), changetype<string>(file | ${ABORT_TEXT_FLAG}), line, column);`,
    "  return value;",
    "}",
    "",
  ].join("\n");
}
