/** Confirmation mails over SMTP (nodemailer), with the settings of config `smtp`. */
import nodemailer, { type Transporter } from 'nodemailer';
import { PortalError } from '../errors.js';

export interface MailSettings {
  host: string;
  port: number;
  secure: boolean;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
}

export interface Mailer {
  send(to: string, subject: string, text: string): Promise<void>;
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(private readonly s: MailSettings) {
    this.transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.secure,
      auth: s.user === undefined ? undefined : { user: s.user, pass: s.password ?? '' },
      // A local relay without a certificate (the lab's) still works; TLS is used when offered.
      tls: { rejectUnauthorized: s.secure },
      connectionTimeout: 10_000,
    });
  }

  async send(to: string, subject: string, text: string): Promise<void> {
    try {
      await this.transport.sendMail({ from: this.s.from, to, subject, text });
    } catch (err) {
      throw new PortalError('PORTAL_ERR_MAIL', (err as Error).message);
    }
  }
}
