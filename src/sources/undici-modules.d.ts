// The undici module src/sources/http.ts loads directly (CommonJS, untyped; typed there from undici's own types).
declare module 'undici/lib/dispatcher/agent.js' {
  const Agent: unknown
  export default Agent
}
