// --help lists every option (flag, environment variable, default) and the exit codes; it goes to stdout, exit 0.
import t from 'tap'
import { runCli } from '../helpers.js'
import { OPTIONS } from '../../src/options.js'

t.test('--help lists every option with its variable and default', async (t) => {
  const r = await runCli(['--help'], { env: { PATH: process.env.PATH ?? '' }, cwd: t.testdir() })
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  for (const o of OPTIONS) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`  --${o.flag} `) || l === `  --${o.flag}`)
    t.ok(line, `--${o.flag} listed`)
    if (o.env !== undefined) t.match(line, `env ${o.env}`, `--${o.flag}: its variable`)
    if (o.default !== undefined) t.match(line, `default ${o.default}]`, `--${o.flag}: its default`)
  }
  t.match(r.stdout, /0 ok \(also "nothing new"\).*\n.*7 verify found damage/)
})
