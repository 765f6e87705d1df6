/** The option rows (flag, environment variable, default, help, parser), for --help, the README and tools: see config/options.ts. */
export { helpText, OPTION, OPTIONS, readmeTable, SOURCE_OPTIONS, type OptionKind, type OptionSpec } from './config/options.js'
