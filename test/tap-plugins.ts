// Exits 0 when tap's built plugin set is the one package.json configures, 1 when it is not (`npm test` then runs
// `tap build` before the suite). tap notices a mismatch itself and rebuilds, but only after its runner has loaded the
// old build: that first run still starts every test file with the loaders of the default set (TypeScript and mock
// hooks, which this project turns off), slower and unlike every later run. A fresh `npm ci` always has the default set.
import { TapConfig } from '@tapjs/config'
import { signature } from '@tapjs/test'

const config = await TapConfig.load()
process.exitCode = config.pluginSignature === signature ? 0 : 1
