/**
 * luxon, with its default locale fixed to en-US. Nothing of ours formats dates for people (every date is ISO 8601,
 * which no locale changes), and without a default luxon asks ICU for the system's locale at the first date it makes:
 * 12-20 ms of every start, before the first request, for a UTC archive that otherwise needs no ICU at all.
 */
import { Settings } from 'luxon'

Settings.defaultLocale = 'en-US'

export { DateTime, IANAZone } from 'luxon'
