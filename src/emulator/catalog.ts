// The emulator serves the same names the client knows: one list, in src/sources/catalog.ts.
export * from '../sources/catalog.js'
