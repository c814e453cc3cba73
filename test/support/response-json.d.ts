// Tests read JSON bodies whose shapes they assert right away; `unknown` would only add casts.
interface Body {
  json(): Promise<any>;
}
interface Response {
  json(): Promise<any>;
}
interface Request {
  json(): Promise<any>;
}
