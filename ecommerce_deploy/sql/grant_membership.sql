GRANT {group} TO {role}
