// Value pools for realistic generated records (Cyrillic names, subjects, paths, IPs), built from a seed.
import { Rng } from './prng.js'

/** One organisation user. */
export interface User { uid: string; login: string; name: string }

const FIRST: ReadonlyArray<[string, string, boolean]> = [
  ['Ольга', 'olga', true], ['Иван', 'ivan', false], ['Мария', 'maria', true], ['Алексей', 'aleksey', false],
  ['Екатерина', 'ekaterina', true], ['Дмитрий', 'dmitry', false], ['Анна', 'anna', true], ['Сергей', 'sergey', false],
  ['Наталья', 'natalya', true], ['Михаил', 'mikhail', false], ['Татьяна', 'tatyana', true], ['Андрей', 'andrey', false],
  ['Юлия', 'yulia', true], ['Пётр', 'petr', false], ['Ксения', 'ksenia', true], ['Никита', 'nikita', false],
]
const LAST: ReadonlyArray<[string, string]> = [
  ['Петров', 'petrov'], ['Иванов', 'ivanov'], ['Смирнов', 'smirnov'], ['Кузнецов', 'kuznetsov'], ['Попов', 'popov'],
  ['Соколов', 'sokolov'], ['Лебедев', 'lebedev'], ['Новиков', 'novikov'], ['Морозов', 'morozov'], ['Волков', 'volkov'],
  ['Фёдоров', 'fedorov'], ['Зайцев', 'zaytsev'], ['Голубев', 'golubev'], ['Белкин', 'belkin'],
]

/** Builds `n` distinct users with 16-digit UIDs starting 11300000. */
export function makeUsers(seed: number, n: number): User[] {
  const rng = new Rng(seed ^ 0x5eed)
  const users: User[] = []
  const seen = new Set<string>()
  while (users.length < n) {
    const [fn, fl, female] = rng.pick(FIRST)
    const [ln, ll] = rng.pick(LAST)
    const uid = '11300000' + String(10000000 + rng.int(89999999))
    const login = `${fl}.${ll}${female ? 'a' : ''}${users.length >= 40 ? users.length : ''}@example.org`
    if (seen.has(uid) || seen.has(login)) continue
    seen.add(uid); seen.add(login)
    users.push({ uid, login, name: `${ln}${female ? 'а' : ''} ${fn}` })
  }
  return users
}

/** IPv4 (documentation ranges) and IPv6 addresses. */
export function makeIps(seed: number, n: number): string[] {
  const rng = new Rng(seed ^ 0x1b5)
  const nets = ['192.0.2.', '198.51.100.', '203.0.113.']
  const out = new Set<string>()
  while (out.size < n) {
    if (rng.chance(0.25)) out.add(`2001:db8:${rng.hex(4).replace(/^0+(?=.)/, '')}::${rng.hex(3).replace(/^0+(?=.)/, '')}`)
    else out.add(rng.pick(nets) + String(1 + rng.int(254)))
  }
  return [...out]
}

/** Ordinary subjects. */
export const SUBJECTS: readonly string[] = [
  'Отчёт за апрель', 'Счёт на оплату', 'Re: Встреча в четверг', 'Fwd: Договор поставки', 'Приглашение на совещание',
  'Квартальный план', 'Служебная записка', 'Заявка на отпуск', 'Напоминание: сдать отчёт', 'Hello from partners',
  'Re: Re: Согласование бюджета', 'Новый пропуск в офис', 'Акт сверки', '', 'Резюме кандидата',
]

/** Deliberately awkward strings: the client must carry them as plain data. */
export const HARD_STRINGS: readonly string[] = [
  '🚀 Запуск проекта «Звезда» — итоги 👩‍👩‍👧‍👦 '.repeat(6) + 'שלום עולם مرحبا بالعالم ' + 'e\u0301 a\u0308 Z\u0324\u0354\u0367\u0311 ' + '漢字かなカナ한국어'.repeat(4),
  '../../etc/passwd',
  'Тема\u0001с\nуправляющими\tсимволами\r и "кавычками" \\ обратным слэшем',
  '\u202eгалп.exe — RTL override',
  'x'.repeat(2000),
]

/** Mail folders: [name, type]. */
export const FOLDERS: ReadonlyArray<[string, string]> = [
  ['Входящие', 'inbox'], ['Отправленные', 'sent'], ['Спам', 'spam'], ['Удалённые', 'trash'],
  ['Архив проектов', 'user'], ['Черновики', 'draft'], ['Клиенты/Москва', 'user'],
]

/** Mail access channels. */
export const MAIL_CHANNELS: readonly string[] = ['web', 'imap', 'mobile', 'pop3', 'smtp', 'server']

/** Disk path fragments. */
export const DIRS: readonly string[] = ['/disk/Отчёты', '/disk/Проекты/2025', '/disk/Фото', '/disk', '/disk/Общие/Бухгалтерия', '/trash']
/** Disk file names. */
export const FILES: readonly string[] = ['апрель.xlsx', 'договор.docx', 'IMG_2041.jpg', 'презентация.pptx', 'notes.txt', 'бюджет 2025 (финал).xlsx', 'архив.zip']

/** External correspondents. */
export const EXTERNAL: readonly string[] = ['boss@example.org', 'partner@example.com', 'noreply@service.example.net', 'client@пример.рф', 'info@example.net']
